// Labelsite: small progressive enhancements. Pages work without this file.
(function () {
  "use strict";
  // Close the workspace switcher when clicking elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.switcher[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
})();
