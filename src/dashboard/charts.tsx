import type { Child } from 'hono/jsx';
import type { Summary } from '../read/summary.js';
import { count } from './format.js';

// The summary's two pictures as inline SVG drawn on the server: nothing to load, nothing to run,
// readable without CSS. Each is one image for assistive technology (role="img", named by its
// <title> and described by its <desc>), and its numbers are also given as a table.

/**
 * Each chart is drawn twice, for a wide and a narrow screen, and the style sheet shows the one that
 * fits: scaled down from 560 to a phone's 350 px, the labels would shrink past reading, and a
 * chart that scrolls sideways hides half of itself. Ids differ, so each image names its own title.
 */
interface Size {
  width: number;
  id: string;
  class: string;
}
const SIZES: Size[] = [
  { width: 560, id: '', class: 'chart-wide' },
  { width: 340, id: '-narrow', class: 'chart-narrow' },
];
const FONT = 13;
/** About how wide a character of the axis labels is, at FONT. */
const CHAR = FONT * 0.6;

/** The smallest round number (1, 2, 5 × 10^k) at or above `n`. */
function roundUp(n: number): number {
  if (n <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(n));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= n)!;
}

/** Ticks from 0 to a round maximum at or above `max`, about `wanted` steps apart. */
function ticks(max: number, wanted = 4): number[] {
  const step = roundUp(Math.max(max, 1) / wanted);
  const top = Math.ceil(Math.max(max, 1) / step) * step;
  return Array.from({ length: top / step + 1 }, (_, i) => i * step);
}

const plural = (n: number, one: string, many: string) => `${count(n)} ${n === 1 ? one : many}`;

type Bucket = Summary['histogram'][number];

/** "1 experiment", "0 experiments", "5–9 experiments". */
const experiments = (b: Bucket) => `${bucketLabel(b)} ${b.min_experiments === 1 && b.max_experiments === 1 ? 'experiment' : 'experiments'}`;

const bucketLabel = (b: Bucket) =>
  b.min_experiments === b.max_experiments ? count(b.min_experiments) : `${count(b.min_experiments)}–${count(b.max_experiments)}`;

/** Users by number of experiments: a vertical bar per bucket, with its count of users. */
export function ExperimentsHistogram({ histogram }: { histogram: Summary['histogram'] }) {
  const labels = histogram.map(bucketLabel);
  const last = histogram[histogram.length - 1];
  const regular = histogram.length > 1 ? histogram[0]!.max_experiments - histogram[0]!.min_experiments + 1 : 1;
  const tail = last !== undefined && histogram.length > 1 && last.max_experiments - last.min_experiments + 1 > regular;
  return (
    <ChartFigure
      picture={(size) => <HistogramSvg histogram={histogram} labels={labels} tail={tail} size={size} />}
      caption={`How many users ran how many experiments (users with none included).${tail && last ? ` The last, darker bar gathers the top 1% of users: ${experiments(last)}.` : ''}`}
      columns={['Experiments', 'Users']}
      rows={histogram.map((b, i) => [labels[i]!, count(b.users)])}
    />
  );
}

function HistogramSvg({ histogram, labels, tail, size }: { histogram: Summary['histogram']; labels: string[]; tail: boolean; size: Size }) {
  const WIDTH = size.width;
  const axis = ticks(Math.max(...histogram.map((b) => b.users)));
  // Room for the longest tick label and the axis title beside it.
  const left = 34 + Math.max(...axis.map((t) => count(t).length)) * CHAR;
  const right = 12;
  const top = 12;
  const plotWidth = WIDTH - left - right;
  const band = plotWidth / Math.max(histogram.length, 1);
  const bar = Math.min(band * 0.8, 64);
  // Labels wider than their bar are turned, so they never overlap.
  const turned = Math.max(...labels.map((l) => l.length)) * CHAR > band - 4;
  const bottom = turned ? 30 + Math.max(...labels.map((l) => l.length)) * CHAR * 0.7 : 46;
  const plotHeight = 220;
  const height = top + plotHeight + bottom;
  const ceiling = axis[axis.length - 1]!;
  const y = (users: number) => top + plotHeight - (users / ceiling) * plotHeight;
  const description = histogram.map((b) => `${experiments(b)}: ${plural(b.users, 'user', 'users')}`).join('; ');
  return (
    <svg
      viewBox={`0 0 ${WIDTH} ${Math.ceil(height)}`}
      role="img"
      aria-labelledby={`histogram-title${size.id} histogram-desc${size.id}`}
      class={`chart-svg ${size.class}`}
    >
      <title id={`histogram-title${size.id}`}>Histogram of experiments per user</title>
      <desc id={`histogram-desc${size.id}`}>{description}</desc>
      {axis.map((tick) => (
        <g class="grid">
          <line x1={left} x2={WIDTH - right} y1={y(tick)} y2={y(tick)} />
          <text x={left - 6} y={y(tick) + FONT / 3} text-anchor="end">
            {count(tick)}
          </text>
        </g>
      ))}
      {histogram.map((b, i) => {
        const x = left + i * band;
        const barTop = y(b.users);
        const labelX = x + band / 2;
        const labelY = top + plotHeight + FONT + 4;
        return (
          <g>
            <rect
              class={tail && i === histogram.length - 1 ? 'bar bar-tail' : 'bar'}
              x={x + (band - bar) / 2}
              y={barTop}
              width={bar}
              height={top + plotHeight - barTop}
            >
              <title>{`${experiments(b)}: ${plural(b.users, 'user', 'users')}`}</title>
            </rect>
            <text
              class="tick"
              x={labelX}
              y={labelY}
              text-anchor={turned ? 'end' : 'middle'}
              transform={turned ? `rotate(-45 ${labelX} ${labelY - FONT / 2})` : undefined}
            >
              {labels[i]}
            </text>
          </g>
        );
      })}
      <line class="axis" x1={left} x2={WIDTH - right} y1={top + plotHeight} y2={top + plotHeight} />
      <text class="axis-title" x={left + plotWidth / 2} y={height - 6} text-anchor="middle">
        Experiments per user
      </text>
      <text class="axis-title" x={14} y={top + plotHeight / 2} text-anchor="middle" transform={`rotate(-90 14 ${top + plotHeight / 2})`}>
        Users
      </text>
    </svg>
  );
}

/** The top compounds: a horizontal bar per compound, its name on the left and its users at the end. */
export function TopCompoundsChart({ compounds }: { compounds: Summary['top_compounds'] }) {
  return (
    <ChartFigure
      picture={(size) => <CompoundsSvg compounds={compounds} size={size} />}
      caption="For each compound, the users whose most common compound it is; a tie counts for each tied compound."
      columns={['Compound', 'Id', 'Users']}
      rows={compounds.map((c) => [c.compound_name, String(c.compound_id), count(c.users)])}
    />
  );
}

/**
 * A chart as the pages show it: its picture in each size (see SIZES), a caption, and its numbers as
 * a table: the first column text, the others numbers.
 */
function ChartFigure({
  picture,
  caption,
  columns,
  rows,
}: {
  picture: (size: Size) => Child;
  caption: string;
  columns: string[];
  rows: string[][];
}) {
  return (
    <figure class="chart">
      <div class="chart-scroll">{SIZES.map(picture)}</div>
      <figcaption>{caption}</figcaption>
      <details>
        <summary>The numbers</summary>
        <table>
          <thead>
            <tr>
              {columns.map((label, i) => (
                <th scope="col" class={i > 0 ? 'num' : undefined}>
                  {label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((cells) => (
              <tr>
                {cells.map((cell, i) => (
                  <td class={i > 0 ? 'num' : undefined}>{cell}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

function CompoundsSvg({ compounds, size }: { compounds: Summary['top_compounds']; size: Size }) {
  const WIDTH = size.width;
  // Names are cut to leave the bars room: shorter on a narrow screen (the table has them whole).
  const mostChars = size.width < 400 ? 14 : 22;
  const names = compounds.map((c) =>
    c.compound_name.length > mostChars ? `${c.compound_name.slice(0, mostChars - 1)}…` : c.compound_name,
  );
  // Room for the longest name (CHAR is an average; wide letters need the margin), no more.
  const left = 16 + Math.max(...names.map((n) => n.length)) * CHAR * 1.1;
  // Room for the largest count after its bar.
  const right = 12 + Math.max(...compounds.map((c) => count(c.users).length)) * CHAR;
  const top = 8;
  const row = 28;
  const plotWidth = WIDTH - left - right;
  const plotHeight = row * compounds.length;
  const height = top + plotHeight + 40;
  const most = Math.max(...compounds.map((c) => c.users), 1);
  const description = compounds.map((c) => `${c.compound_name} (id ${c.compound_id}): ${plural(c.users, 'user', 'users')}`).join('; ');
  return (
    <svg
      viewBox={`0 0 ${WIDTH} ${height}`}
      role="img"
      aria-labelledby={`compounds-title${size.id} compounds-desc${size.id}`}
      class={`chart-svg ${size.class}`}
    >
      <title id={`compounds-title${size.id}`}>The compounds most often a user's top compound</title>
      <desc id={`compounds-desc${size.id}`}>{description}</desc>
      {compounds.map((c, i) => {
        const y = top + i * row;
        const width = Math.max((c.users / most) * plotWidth, 1);
        return (
          <g>
            <text x={left - 8} y={y + row / 2 + FONT / 3} text-anchor="end">
              {names[i]}
            </text>
            <rect class="bar" x={left} y={y + 4} width={width} height={row - 8}>
              <title>{`${c.compound_name} (id ${c.compound_id}): ${plural(c.users, 'user', 'users')}`}</title>
            </rect>
            <text class="value" x={left + width + 6} y={y + row / 2 + FONT / 3}>
              {count(c.users)}
            </text>
          </g>
        );
      })}
      <line class="axis" x1={left} x2={left} y1={top} y2={top + plotHeight} />
      <text class="axis-title" x={Math.min(left + plotWidth / 2, WIDTH / 2)} y={height - 10} text-anchor="middle">
        Users with it among their top compounds
      </text>
    </svg>
  );
}
