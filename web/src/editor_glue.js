// The page's side of the editor chunk (web/editor/): imports it the first time editing starts and
// mounts CodeMirror over the textarea, which stays as the editor while the chunk loads and if it
// fails to. Kept tiny because it loads with the page; everything else is in the chunk.

let chunk = null;

/// Imports the chunk at `url` (once), mounts an editor in `host` holding the textarea's text and
/// caret, and hands its handle to `onready`; on failure `onfail` gets the reason.
export function startEditor(url, host, area, onchange, onready, onfail) {
  chunk = chunk || import(new URL(url, document.baseURI).href);
  chunk.then(
    (module) => {
      const focused = document.activeElement === area;
      const handle = module.mount(host, area.value, area.selectionStart || 0, onchange);
      onready(handle);
      if (focused) handle.focus();
    },
    (error) => {
      chunk = null;
      onfail(String(error && error.message || error));
    },
  );
}
