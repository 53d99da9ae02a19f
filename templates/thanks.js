// The thanks page polls the payment's status until the provider has confirmed it (served as a
// file: the Content-Security-Policy allows no inline script). Once the outcome is known the page
// reloads, so that its heading and text come from the server and follow the outcome.
(function () {
  var el = document.getElementById('state');
  if (!el) { return; }
  var started = Date.now();
  function poll() {
    fetch(el.dataset.statusUrl, {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        var done = ['failed', 'expired', 'canceled'];
        var settled = ['paid', 'partially_refunded', 'refunded', 'void'];
        if (settled.indexOf(s.receipt_status) >= 0 || done.indexOf(s.payment_status) >= 0) {
          window.location.reload();
          return;
        }
        if (Date.now() - started > 60000) { document.getElementById('stuck').hidden = false; }
        setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1000);
})();
