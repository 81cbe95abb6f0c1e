// Django admin, datastore form: show only the fields the chosen datastore type uses.
(function () {
  "use strict";
  var FIELDS = {
    azure_blob: ["endpoint", "container", "auth_type", "access_key_id", "secret"],
    s3: ["endpoint", "container", "region", "auth_type", "access_key_id", "secret"],
    local: ["local_path"]
  };
  var ALL = ["endpoint", "container", "region", "local_path", "auth_type", "access_key_id", "secret"];
  function update() {
    var kind = document.getElementById("id_kind");
    if (!kind) return;
    var shown = FIELDS[kind.value] || ALL;
    ALL.forEach(function (name) {
      document.querySelectorAll(".field-" + name).forEach(function (row) {
        row.hidden = shown.indexOf(name) === -1;
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var kind = document.getElementById("id_kind");
    if (kind) kind.addEventListener("change", update);
    update();
  });
})();
