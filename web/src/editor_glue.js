// See editor.rs: imports the CodeMirror chunk once and mounts it over the textarea.
let chunk;
export function startEditor(url, host, area, onchange, onready, onfail) {
  chunk = chunk || import(new URL(url, document.baseURI).href);
  chunk.then((m) => {
    const focused = document.activeElement === area;
    host.hidden = false; // shown at once, so focus can move into it before the page re-renders
    const handle = m.mount(host, area.value, area.selectionStart || 0, onchange);
    onready(handle);
    if (focused) handle.focus();
  }, (e) => { chunk = null; onfail(String(e)); });
}
