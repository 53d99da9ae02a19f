// My Usage: "select all / none" and the running total of the selected records (served as a
// file: the Content-Security-Policy allows no inline script). Amounts are summed as integer
// minor units (BigInt) and formatted with the currency's exponent: no floating point.
(function () {
  var form = document.getElementById('bill');
  if (!form) { return; }
  var boxes = form.querySelectorAll('input[type=checkbox][name=record]');
  var currency = form.dataset.currency || '';
  var exponent = parseInt(form.dataset.exponent || '0', 10);
  function format(minor) {
    var neg = minor < 0n;
    var digits = (neg ? -minor : minor).toString();
    while (digits.length <= exponent) { digits = '0' + digits; }
    var whole = digits.slice(0, digits.length - exponent);
    var frac = digits.slice(digits.length - exponent);
    whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return currency + ' ' + (neg ? '-' : '') + whole + (exponent > 0 ? '.' + frac : '');
  }
  function update() {
    var total = 0n;
    var count = 0;
    boxes.forEach(function (b) {
      if (b.checked) { total += BigInt(b.dataset.minor); count += 1; }
    });
    document.getElementById('selection-count').textContent = String(count);
    document.getElementById('selection-total').textContent = format(total);
  }
  boxes.forEach(function (b) { b.addEventListener('change', update); });
  var tools = form.querySelector('.select-tools');
  tools.hidden = false;
  tools.addEventListener('click', function (e) {
    var which = e.target.dataset && e.target.dataset.select;
    if (!which) { return; }
    boxes.forEach(function (b) { b.checked = which === 'all'; });
    update();
  });
  update();
})();
