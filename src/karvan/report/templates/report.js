// the report's script, inlined into every report: tooltips, scenario selector, map zoom
(function () {
  "use strict";
  var tip = document.getElementById("tip"), hot = null;
  function place(e) {
    var pad = 14, r = tip.getBoundingClientRect();
    var x = e.clientX + pad, y = e.clientY + pad;
    if (x + r.width > window.innerWidth) x = e.clientX - pad - r.width;
    if (y + r.height > window.innerHeight) y = e.clientY - pad - r.height;
    tip.style.left = Math.max(0, x) + "px"; tip.style.top = Math.max(0, y) + "px";
  }
  document.addEventListener("mouseover", function (e) {
    var t = e.target.closest ? e.target.closest("[data-t]") : null;
    if (hot && hot !== t) hot.classList.remove("hot");
    if (!t) { tip.hidden = true; hot = null; return; }
    hot = t; t.classList.add("hot");
    tip.replaceChildren();
    t.getAttribute("data-t").split("\n").forEach(function (s, i) {
      var d = document.createElement(i ? "div" : "strong"); d.textContent = s;
      tip.appendChild(d);
    });
    tip.hidden = false; place(e);
  });
  document.addEventListener("mousemove", function (e) { if (!tip.hidden) place(e); });
  var sel = document.getElementById("scn");
  function show(i) {
    document.querySelectorAll("section.panel").forEach(function (p) {
      p.hidden = p.getAttribute("data-scn") !== String(i);
    });
  }
  if (sel) {
    sel.addEventListener("change", function () { show(sel.value); });
    var h = decodeURIComponent(location.hash.slice(1));
    Array.prototype.forEach.call(sel.options, function (o) {
      if (h && o.getAttribute("data-name") === h) { sel.value = o.value; show(o.value); }
    });
  }
  document.querySelectorAll("figure.mapbox").forEach(function (f) {
    var svg = f.querySelector("svg.map");
    var base = svg.getAttribute("data-vb").split(" ").map(Number), vb = base.slice();
    function set() {
      svg.setAttribute("viewBox", vb.map(function (v) { return v.toFixed(1); }).join(" "));
      // symbols and labels keep their size on screen; bands do by non-scaling stroke
      svg.style.setProperty("--s", String(Math.sqrt(vb[2] / base[2])));
    }
    function zoom(z, cx, cy) {
      if (cx === undefined) { cx = vb[0] + vb[2] / 2; cy = vb[1] + vb[3] / 2; }
      vb = [cx - (cx - vb[0]) / z, cy - (cy - vb[1]) / z, vb[2] / z, vb[3] / z]; set();
    }
    f.querySelectorAll("button[data-box]").forEach(function (b) {
      b.addEventListener("click", function () {
        var bx = b.getAttribute("data-box").split(" ").map(Number);
        var k = Math.max(bx[2] / base[2], bx[3] / base[3]);
        var w = base[2] * k, h = base[3] * k;
        vb = [bx[0] + bx[2] / 2 - w / 2, bx[1] + bx[3] / 2 - h / 2, w, h]; set();
      });
    });
    f.querySelectorAll("button[data-z]").forEach(function (b) {
      b.addEventListener("click", function () {
        var z = Number(b.getAttribute("data-z"));
        if (!z) { vb = base.slice(); set(); } else { zoom(z); }
      });
    });
    function toSvg(e) {
      var m = svg.getScreenCTM().inverse(), p = svg.createSVGPoint();
      p.x = e.clientX; p.y = e.clientY; return p.matrixTransform(m);
    }
    svg.addEventListener("wheel", function (e) {
      e.preventDefault(); var p = toSvg(e); zoom(e.deltaY < 0 ? 1.25 : 0.8, p.x, p.y);
    }, { passive: false });
    var drag = null;
    svg.addEventListener("pointerdown", function (e) {
      drag = { p: toSvg(e) }; svg.style.cursor = "grabbing";
    });
    window.addEventListener("pointermove", function (e) {
      if (!drag) return; var p = toSvg(e);
      vb[0] -= p.x - drag.p.x; vb[1] -= p.y - drag.p.y; set();
    });
    window.addEventListener("pointerup", function () { drag = null; svg.style.cursor = ""; });
  });
})();
