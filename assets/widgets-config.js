// Loaded before require.js. The ipywidgets HTML manager finds its icon fonts
// beside the URL that require.js assigns to it, by default a folder next to each
// page, which does not exist. Map it to its vendored copy in _static/html-manager/,
// wherever the site is served from. (A global `require` object is require.js's
// documented way to pass configuration before it loads.)
var require = {
  paths: {
    "@jupyter-widgets/html-manager/dist": new URL("html-manager", document.currentScript.src).href,
  },
};
