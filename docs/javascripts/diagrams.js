// The site's diagrams at their own size: mkdocs-material starts mermaid with sequence diagrams
// shrunk to the page's width (useMaxWidth), which took the redirect flow's labels down to about
// 5 px. Kept at their natural size, a wide diagram scrolls sideways instead (stylesheets/
// diagrams.css), and its text stays as large as the page's. Loaded after the site's own copy of
// mermaid (javascripts/vendor/, see scripts/docs_assets.py), before Material starts it.
(function () {
  if (typeof mermaid === "undefined") return;
  var initialize = mermaid.initialize.bind(mermaid);
  mermaid.initialize = function (config) {
    var sequence = Object.assign({}, (config || {}).sequence, { useMaxWidth: false });
    return initialize(Object.assign({}, config, { sequence: sequence }));
  };
})();
