// Render LaTeX math with the locally served KaTeX, and wire the copy buttons.
document.addEventListener("DOMContentLoaded", function () {
  if (window.renderMathInElement) {
    document.querySelectorAll(".math").forEach(function (el) {
      window.renderMathInElement(el, {
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
