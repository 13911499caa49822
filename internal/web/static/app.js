// Progressive enhancement only: every page works without this file.
(function () {
  'use strict';
  // Move focus to an error summary, as the NHS.UK design system asks, so
  // that screen reader users hear what to fix.
  var summary = document.querySelector('.nhsuk-error-summary');
  if (summary) { summary.focus(); }
  // On a slow line a second press of a submit button sends the form twice:
  // after the first, show that it is on its way and ignore the rest.
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (form.getAttribute('data-sent')) { e.preventDefault(); return; }
    form.setAttribute('data-sent', '1');
    var b = form.querySelector('button[type=submit],button:not([type])');
    if (b && b.classList.contains('nhsuk-button')) { b.setAttribute('aria-disabled', 'true'); b.textContent = 'Sending…'; }
  });
})();
