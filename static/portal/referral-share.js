/* Copy buttons for the referral page: no dependencies, no network. A button with
   data-copy-target="<input id>" copies that field's value and announces data-copied-text.
   The buttons stay hidden where the script does not run (the fields are still selectable). */
(function () {
  "use strict";
  var status = document.getElementById("copy-status");

  function announce(button, text) {
    if (status) { status.textContent = text; }
    var label = button.textContent;
    button.textContent = text;
    window.setTimeout(function () { button.textContent = label; }, 2000);
  }

  function copyFallback(field) {
    field.focus();
    field.select();
    try { return document.execCommand("copy"); } catch (error) { return false; }
  }

  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy-target"));
    if (!field) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var done = function () { announce(button, button.getAttribute("data-copied-text") || ""); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () { if (copyFallback(field)) { done(); } });
      } else if (copyFallback(field)) {
        done();
      }
    });
  });
}());
