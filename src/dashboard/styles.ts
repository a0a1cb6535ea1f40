/**
 * The dashboard's style sheet, served as /ui/dashboard.css (a string in a TypeScript module so that
 * it is in dist/ and the Docker image with the code). System fonts only: nothing to download.
 * Readable from a 320 px phone to a wide screen: wide tables scroll inside their own box, the two
 * charts sit side by side only when there is room.
 */
export const STYLES = `
:root {
  --text: #1f2937; --muted: #5b6472; --line: #d9dee5; --soft: #f3f5f8; --page: #f7f8fa; --card: #fff;
  --accent: #1d4ed8; --accent-dark: #1e3a8a; --ok: #166534; --ok-bg: #e8f5ec; --bad: #991b1b; --bad-bg: #fdecec;
  --warn: #854d0e; --warn-bg: #fdf6e3; --run: #1e40af; --run-bg: #e8effd;
  color-scheme: light;
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--page); color: var(--text);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
}
a { color: var(--accent); }
a:hover { color: var(--accent-dark); }
:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--card); padding: .5rem 1rem; z-index: 1; }
.skip:focus { left: .5rem; }

.top {
  display: flex; flex-wrap: wrap; align-items: center; gap: .25rem 1.5rem;
  background: #0f172a; color: #e2e8f0; padding: .6rem max(1rem, calc((100% - 1240px) / 2));
}
.top a { color: #e2e8f0; text-decoration: none; }
.top a:hover, .top a[aria-current="page"] { color: #fff; text-decoration: underline; text-underline-offset: 4px; }
.brand { margin: 0; font-weight: 700; letter-spacing: .01em; }
.top ul { display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; list-style: none; margin: 0; padding: 0; }

main { max-width: 1240px; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.45rem; margin: .25rem 0 .75rem; }
h2 { font-size: 1.15rem; margin: 0 0 .6rem; }
section, .card {
  background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1rem; margin: 0 0 1rem;
}
.lead { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 340px), 1fr)); gap: 1rem; margin-bottom: 1rem; }
.lead > section { margin: 0; }
.muted, figcaption, .hint { color: var(--muted); }
.hint { font-size: .9rem; }

button, .button {
  font: inherit; font-weight: 600; border-radius: 6px; padding: .5rem 1.1rem; cursor: pointer;
  border: 1px solid var(--accent); background: var(--accent); color: #fff; text-decoration: none; display: inline-block;
}
button:hover, .button:hover { background: var(--accent-dark); color: #fff; }
button.secondary, .button.secondary { background: var(--card); color: var(--accent); }
button.secondary:hover, .button.secondary:hover { background: var(--run-bg); color: var(--accent-dark); }
input, select {
  font: inherit; padding: .4rem .5rem; border: 1px solid #9aa3af; border-radius: 6px; min-width: 0; max-width: 100%;
}
label { font-weight: 600; }
.row { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem .75rem; }

.message:empty { display: none; }
.message { border-radius: 6px; padding: .6rem .8rem; margin: .75rem 0 0; background: var(--soft); overflow-wrap: anywhere; }
.message-succeeded { background: var(--ok-bg); color: var(--ok); }
.message-failed { background: var(--bad-bg); color: var(--bad); }
.message-warning { background: var(--warn-bg); color: var(--warn); }
.progress { margin: .75rem 0 0; padding: .6rem .8rem; border-radius: 6px; background: var(--run-bg); color: var(--run); }
.progress p { margin: 0 0 .3rem; font-weight: 600; }
.progress progress { width: 100%; height: .6rem; }
.progress ul { margin: .3rem 0 0; padding-left: 1.2rem; }
details { margin-top: .75rem; }
summary { cursor: pointer; color: var(--accent); }

.stats { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: .75rem; margin: 0 0 .75rem; }
.stats div { background: var(--soft); border-radius: 6px; padding: .5rem .75rem; }
.stats dt { color: var(--muted); font-size: .85rem; }
.stats dd { margin: 0; font-size: 1.35rem; font-weight: 700; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }

.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .45rem .65rem; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { background: var(--soft); font-size: .85rem; }
tbody tr:last-child > * { border-bottom: 0; }
th.num, td.num { text-align: right; }
td.nowrap, th.nowrap { white-space: nowrap; }
tr.highlight > * { background: #fff7d6; }
tr.error-row td { color: var(--bad); background: var(--bad-bg); overflow-wrap: anywhere; font-size: .9rem; }
caption { text-align: left; padding: .45rem .65rem; color: var(--muted); font-size: .9rem; }
code, .raw { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .85rem; }
.raw { white-space: pre-wrap; overflow-wrap: anywhere; min-width: 16rem; display: block; }
.ids { color: var(--muted); font-size: .85rem; white-space: nowrap; }
/* The features table: sortable headers are links; tied top compounds one per line. */
th a.sort { color: inherit; text-decoration: none; display: inline-block; }
th a.sort:hover, th a.sort:focus-visible { text-decoration: underline; color: var(--accent-dark); }
th[aria-sort] a.sort { color: var(--accent); }
ul.compounds { list-style: none; margin: 0; padding: 0; display: flow-root; }
table.features td.email { overflow-wrap: anywhere; }
/* A long email wraps beside its label on a phone card, not under it. */
table.features .value { display: flow-root; }
#q { flex: 1 1 16rem; }
form .hint { flex-basis: 100%; margin: 0; }
.top-mark { color: var(--warn); font-size: .85rem; }

.status { display: inline-block; border-radius: 999px; padding: .05rem .55rem; font-size: .85rem; font-weight: 600; white-space: nowrap; }
.status-succeeded { background: var(--ok-bg); color: var(--ok); }
.status-failed { background: var(--bad-bg); color: var(--bad); }
.status-warnings { background: var(--warn-bg); color: var(--warn); }
.status-running { background: var(--run-bg); color: var(--run); }

.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 420px), 1fr)); gap: 1rem; }
.chart { margin: 0; min-width: 0; }
.chart h3 { font-size: 1rem; margin: 0 0 .4rem; }
.chart-scroll { overflow-x: auto; }
/* Each chart is drawn for a wide and a narrow screen (charts.tsx): the one that fits is shown. */
.chart-svg { width: 100%; height: auto; display: block; font-size: 13px; fill: var(--text); }
.chart-narrow { display: none; }
@media (max-width: 520px) { .chart-wide { display: none; } .chart-narrow { display: block; } }
.chart-svg .bar { fill: #3b82f6; }
.chart-svg .bar:hover { fill: var(--accent-dark); }
.chart-svg .bar-tail { fill: #1e3a8a; }
.chart-svg .grid line { stroke: #e5e7eb; }
.chart-svg .axis { stroke: #6b7280; }
.chart-svg .axis-title { fill: var(--muted); font-weight: 600; }
.chart-svg .value { fill: var(--muted); }
figcaption { font-size: .9rem; margin-top: .3rem; }

.pager { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; margin: .75rem 0; }
.run-choice { border-top: 1px solid var(--line); padding-top: .6rem; margin-top: .6rem; }
.run-choice p { margin: 0 0 .5rem; overflow-wrap: anywhere; }
.files { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 12rem), 1fr)); gap: .5rem;
  border: 2px dashed var(--line); border-radius: 6px; padding: .6rem; margin: 0 0 .6rem; }
.files.dragging { border-color: var(--accent); background: var(--run-bg); }
.file { display: flex; flex-direction: column; gap: .2rem; min-width: 0; }
.file input { width: 100%; }
.count { white-space: nowrap; }
.reasons { list-style: none; padding: 0; margin: 0 0 .75rem; display: grid; gap: .3rem; }
.reasons li { display: flex; flex-wrap: wrap; gap: .25rem .75rem; align-items: baseline; overflow-wrap: anywhere; }
.reasons .n { font-weight: 700; font-variant-numeric: tabular-nums; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0 0 1rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
/*
 * On a phone a table of many columns becomes one card per row: each cell on its own line, after
 * its column's name (the cell's data-label), so every value is read without scrolling sideways.
 * The header row stays for screen readers, out of sight.
 */
@media (max-width: 640px) {
  table.cards thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
  table.cards caption { display: block; }
  table.cards, table.cards tbody, table.cards tr { display: block; }
  table.cards .status { white-space: normal; }
  table.cards tbody tr { border-bottom: 1px solid var(--line); padding: .35rem 0; }
  table.cards tbody tr:last-child { border-bottom: 0; }
  /* The name floats at the left of its value, so a name on two lines pushes the next cell down. */
  table.cards tbody > tr > * {
    display: flow-root; border: 0; padding: .15rem .65rem; text-align: left; white-space: normal; overflow-wrap: anywhere;
  }
  table.cards tbody > tr > [data-label]::before {
    content: attr(data-label); float: left; width: 40%; padding-right: .5rem; overflow-wrap: anywhere;
    color: var(--muted); font-size: .85rem; font-weight: 400;
  }
  table.cards .raw { min-width: 0; }
  /* The features table keeps its sortable headers on a phone, as a row of links above the cards. */
  table.cards.features thead { position: static; width: auto; height: auto; overflow: visible; clip-path: none; display: block; }
  table.cards.features thead tr { display: flex; flex-wrap: wrap; gap: .25rem .5rem; padding: .4rem .65rem; background: var(--soft); }
  table.cards.features thead th { border: 0; padding: .15rem .35rem; background: none; }
}
@media (max-width: 520px) {
  main { padding: .6rem; }
  section, .card { padding: .75rem; }
  dl.facts { grid-template-columns: 1fr; }
  dl.facts dd { margin-bottom: .4rem; }
}
`;
