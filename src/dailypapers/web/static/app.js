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
        // Titles and abstracts are anyone's text: no links, HTML or pictures from TeX
        // (\href and \url show their text only), and no sizes or expansions that could draw
        // over the page or hang it.
        trust: false,
        maxSize: 5,
        maxExpand: 500,
        macros: { "\\href": "{#2}", "\\url": "\\text{#1}" }
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
  // Upvote buttons are forms that work without JavaScript; with it, they update in place.
  document.querySelectorAll("form[data-vote]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (form.dataset.busy) return;  // a double click sends one request
      form.dataset.busy = "1";
      // getAttribute: the form has an input named "action", which shadows form.action.
      fetch(form.getAttribute("action"), { method: "POST", body: new FormData(form), headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (response.status === 401) { window.location = "/login?next=" + encodeURIComponent(window.location.pathname); return null; }
          if (!response.ok) { form.submit(); return null; }
          return response.json();
        })
        .then(function (data) {
          if (!data) return;
          var voted = !!data.voted;
          form.querySelector(".count").textContent = data.upvotes;
          form.querySelector("input[name=action]").value = voted ? "down" : "up";
          form.classList.toggle("voted", voted);
          var button = form.querySelector("button");
          button.setAttribute("aria-pressed", voted ? "true" : "false");
          button.title = voted ? "Remove your upvote" : "Upvote";
        })
        .finally(function () { delete form.dataset.busy; });
    });
  });
  document.documentElement.classList.add("js-ready");
});
