// List this pack's example workflows in the template browser in the order of their file names.
//
// ComfyUI's server lists a pack's example_workflows/*.json in the order of its directory listing, which
// is arbitrary on most Linux file systems, and the frontend shows them in that order.  The file names
// start with a two-digit number that puts the simplest example first (scripts/build_examples.py), so the
// list this pack receives is sorted by name.  Other packs' lists are left as they are; if the frontend
// no longer has the function patched here, nothing changes.
import { app } from "../../scripts/app.js";

// this file is served as /extensions/<this pack's folder in custom_nodes>/template_order.js
const here = new URL(import.meta.url).pathname.split("/extensions/")[1] || "";
const folder = decodeURIComponent(here.split("/")[0] || "");

app.registerExtension({
  name: "GANLatentLab.TemplateOrder",
  setup() {
    const api = app.api;
    if (!folder || !api || typeof api.getWorkflowTemplates !== "function") return;
    const listed = api.getWorkflowTemplates.bind(api);
    api.getWorkflowTemplates = async (...args) => {
      const templates = await listed(...args);
      if (templates && Array.isArray(templates[folder])) {
        templates[folder] = [...templates[folder]].sort();
      }
      return templates;
    };
  },
});
