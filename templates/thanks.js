// The thanks page polls the payment's status until the webhook has arrived (served as a file:
// the Content-Security-Policy allows no inline script).
(function () {
  var el = document.getElementById('state');
  var started = Date.now();
  function poll() {
    fetch(el.dataset.statusUrl, {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.receipt_status === 'paid') {
          el.innerHTML = '<p class="paid">Receipt #' + s.receipt_id + ' is <strong>paid</strong> (' + s.amount + ').</p>';
          return;
        }
        if (s.payment_status === 'failed' || s.payment_status === 'expired' || s.payment_status === 'canceled') {
          el.innerHTML = '<p class="error-msg">The payment ' + s.payment_status + '. You can try again from the receipt.</p>';
          return;
        }
        if (Date.now() - started > 60000) { document.getElementById('stuck').hidden = false; }
        setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1000);
})();
