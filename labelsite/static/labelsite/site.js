// Labelsite: small progressive enhancements. Pages work without this file.
(function () {
  "use strict";
  // Styles can tell a page with JavaScript from one without (e.g. selection checkboxes become tile clicks).
  document.documentElement.classList.add("js");
  // Close the workspace switcher when clicking elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.switcher[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  // Datastore Browse fragment: "Use this folder" fills the path input named by the nearest
  // [data-path-input] ancestor (the wizard and the admin set it), or #id_path.
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".browse-pick");
    if (!button) return;
    var holder = button.closest("[data-path-input]");
    var input = document.getElementById(holder ? holder.getAttribute("data-path-input") : "id_path");
    if (input) {
      input.value = button.getAttribute("data-path");
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
})();
