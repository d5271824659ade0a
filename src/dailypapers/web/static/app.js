// Render LaTeX math with the locally served KaTeX, and wire the copy buttons.
document.addEventListener("DOMContentLoaded", function () {
  // "\$" in arXiv text is a literal dollar sign: show it as one and keep KaTeX from
  // reading it as a math delimiter.
  document.querySelectorAll(".math").forEach(function (el) {
    var walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    var nodes = [];
    while (walker.nextNode()) { if (walker.currentNode.nodeValue.indexOf("\\$") >= 0) nodes.push(walker.currentNode); }
    nodes.forEach(function (node) {
      var parts = node.nodeValue.split("\\$");
      var frag = document.createDocumentFragment();
      parts.forEach(function (part, i) {
        if (i > 0) { var span = document.createElement("span"); span.className = "tex-dollar"; span.textContent = "$"; frag.appendChild(span); }
        frag.appendChild(document.createTextNode(part));
      });
      node.parentNode.replaceChild(frag, node);
    });
  });
  if (window.renderMathInElement) {
    document.querySelectorAll(".math").forEach(function (el) {
      window.renderMathInElement(el, {
        ignoredClasses: ["tex-dollar"],
        delimiters: [
          { left: "$$", right: "$$", display: true },
          { left: "\\[", right: "\\]", display: true },
          { left: "$", right: "$", display: false },
          { left: "\\(", right: "\\)", display: false }
        ],
        throwOnError: false,
        trust: function (ctx) { return ctx.command === "\\href" && (ctx.protocol === "http" || ctx.protocol === "https"); }
      });
    });
  }
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (!source) return;
      var done = function () { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy BibTeX"; }, 1500); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(source.innerText).then(done);
      } else {
        var range = document.createRange(); range.selectNodeContents(source);
        var sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
        document.execCommand("copy"); done();
      }
    });
  });
  document.documentElement.classList.add("js-ready");
});
