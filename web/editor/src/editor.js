// The playground's editor chunk: CodeMirror 6 with YAML highlighting, line numbers, undo and
// redo, search, and lbplay's located problems as lint diagnostics (gutter markers and underlines).
// esbuild bundles it at build time (`cargo xtask editor`, see web/editor/package.json) into one
// ES module that the page imports only when editing starts (web/src/editor_glue.js).
//
// The page talks to it through `mount` and the handle it returns; the scenario's text stays the
// page's, which hears every change at once through `onchange`.

import { EditorState, Annotation } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  drawSelection, highlightSpecialChars,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { syntaxHighlighting, defaultHighlightStyle, HighlightStyle, indentOnInput, bracketMatching } from "@codemirror/language";
import { yaml } from "@codemirror/lang-yaml";
import { lintGutter, setDiagnostics } from "@codemirror/lint";
import { search, searchKeymap, highlightSelectionMatches } from "@codemirror/search";
import { tags } from "@lezer/highlight";

// A change that came from the page (a reset, a quick control, another lesson), not from typing:
// the page already knows it, so it is not echoed back.
const external = Annotation.define();

// Colours from the page's own custom properties, so the light and dark themes both apply.
const theme = EditorView.theme({
  "&": { height: "100%", backgroundColor: "var(--panel)", color: "var(--fg)", fontSize: "12px" },
  ".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "18px" },
  ".cm-content": { caretColor: "var(--fg)" },
  ".cm-cursor": { borderLeftColor: "var(--fg)" },
  ".cm-gutters": { backgroundColor: "var(--panel-2)", color: "var(--muted)", borderRight: "1px solid var(--line)" },
  ".cm-activeLine": { backgroundColor: "color-mix(in srgb, var(--accent-bg) 45%, transparent)" },
  ".cm-activeLineGutter": { backgroundColor: "var(--accent-bg)" },
  "&.cm-focused": { outline: "2px solid var(--accent)", outlineOffset: "-2px" },
  "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": { backgroundColor: "var(--accent-bg)" },
  ".cm-panels": { backgroundColor: "var(--panel-2)", color: "var(--fg)" },
});

// YAML's tokens in the page's palette (keys blue, strings green, numbers and booleans orange).
const palette = HighlightStyle.define([
  { tag: tags.propertyName, color: "var(--accent)" },
  { tag: [tags.string, tags.special(tags.string)], color: "var(--good)" },
  { tag: [tags.number, tags.bool, tags.null], color: "var(--change)" },
  { tag: [tags.comment, tags.meta], color: "var(--muted)", fontStyle: "italic" },
  { tag: [tags.keyword, tags.typeName, tags.labelName], color: "var(--jump)" },
  { tag: [tags.separator, tags.punctuation], color: "var(--muted)" },
]);

// The position of a 1-based line and column (columns count characters, as the loader's do);
// the end of the text when the place is past it.
function position(doc, line, column) {
  if (line > doc.lines) return doc.length;
  const at = doc.line(Math.max(1, line));
  const before = [...at.text].slice(0, Math.max(0, column - 1)).join("");
  return at.from + Math.min(before.length, at.length);
}

// Problems arrive as lines of `line\tcolumn\tseverity\tmessage`.
function diagnostics(doc, encoded) {
  const out = [];
  for (const row of encoded.split("\n")) {
    if (!row) continue;
    const [line, column, severity, ...message] = row.split("\t");
    const from = position(doc, Number(line), Number(column));
    const end = doc.lineAt(from).to;
    out.push({ from, to: Math.max(from, end), severity: severity === "error" ? "error" : "warning", message: message.join("\t") });
  }
  return out;
}

/// Mounts an editor holding `text` in `parent`, with the caret at `caret` (UTF-16 units, as a
/// textarea counts), calling `onchange(text)` after every edit the learner makes.
export function mount(parent, text, caret, onchange) {
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: text,
      selection: { anchor: Math.min(caret, text.length) },
      extensions: [
        lineNumbers(), highlightActiveLineGutter(), highlightSpecialChars(), history(), drawSelection(),
        indentOnInput(), bracketMatching(), highlightActiveLine(), highlightSelectionMatches(), search({ top: true }),
        syntaxHighlighting(palette), syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        yaml(), lintGutter(), theme,
        EditorState.tabSize.of(2),
        EditorView.contentAttributes.of({ "aria-label": parent.getAttribute("data-label") || "YAML", "data-testid": "cm-text" }),
        // Tab indents; Escape then Tab leaves the editor (CodeMirror's documented way out).
        keymap.of([...defaultKeymap, ...historyKeymap, ...searchKeymap, indentWithTab]),
        EditorView.updateListener.of((update) => {
          if (update.docChanged && !update.transactions.some((t) => t.annotation(external))) {
            onchange(update.state.doc.toString());
          }
        }),
      ],
    }),
  });
  const handle = {
    /// Replaces the text when it changed from outside; as one undoable change, so nothing is lost.
    setText(next) {
      const now = view.state.doc.toString();
      if (now === next) return;
      view.dispatch({ changes: { from: 0, to: now.length, insert: next }, annotations: external.of(true) });
    },
    /// Shows the loader's problems (see `diagnostics`).
    setProblems(encoded) {
      view.dispatch(setDiagnostics(view.state, diagnostics(view.state.doc, encoded)));
    },
    /// Puts the caret at a 1-based line and column and shows it.
    goto(line, column) {
      const at = position(view.state.doc, line, column);
      view.dispatch({ selection: { anchor: at }, scrollIntoView: true });
      view.focus();
    },
    focus() { view.focus(); },
    text() { return view.state.doc.toString(); },
    destroy() { view.destroy(); },
    view,
  };
  // Tests and the bench reach the editor through its host element.
  parent.lbplayEditor = handle;
  return handle;
}
