// The passages' groups: colour, line style, icon, label and meaning. Shared by the content script
// (injected before content.js) and the options page (its legend). Plain data, no code from elsewhere.
"use strict";

globalThis.PROVENANCE_LEGEND = Object.freeze({
  groups: Object.freeze({
    faithful: { icon: "✓", label: "faithful", color: "#1a7f37", line: "solid",
      help: "the source's words (verbatim, cosmetic or elided)" },
    altered: { icon: "≠", label: "altered", color: "#cf222e", line: "wavy",
      help: "words inserted, deleted or replaced" },
    misattributed: { icon: "⇄", label: "misattributed", color: "#8250df", line: "double",
      help: "found, but in another page the post cites" },
    not_found: { icon: "✗", label: "not found", color: "#bc4c00", line: "dashed",
      help: "a quote found in none of the cited pages" },
    source_changed: { icon: "↻", label: "source changed", color: "#0969da", line: "solid",
      help: "matches the page as it was, not as it is" },
    unverifiable: { icon: "?", label: "unverifiable", color: "#6e7781", line: "dotted",
      help: "its page could not be read" },
    own_words: { icon: "✎", label: "own words", color: "#8c959f", line: "dotted",
      help: "unquoted text found nowhere: the poster's own" },
  }),
  reasons: Object.freeze({
    number_changed: "a number was changed",
    negation_changed: "a negation was added or removed",
    name_changed: "a name was changed",
    words_replaced: "words were replaced",
    words_inserted: "words were inserted",
    words_deleted: "words were deleted",
    spliced: "pieces of different places were joined",
    reordered: "words were put in another order",
    extended: "the passage goes on past the source's words",
    misleading_elision: "a gap leaves out words that change the meaning",
    bracketed_substitution: "a bracketed substitution (cosmetic)",
  }),
  /** Which group a quote belongs to; an unmarked passage found nowhere is the poster's own words. */
  group(quote) {
    const status = quote?.status;
    if (status === "verbatim" || status === "cosmetic" || status === "elided") return "faithful";
    if (status === "not_found") return quote.explicit || quote.flagged ? "not_found" : "own_words";
    return Object.hasOwn(this.groups, status) ? status : "unverifiable";
  },
});
