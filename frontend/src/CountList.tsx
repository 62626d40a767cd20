import { formatCount } from './lib/format';
import type { Row } from './lib/breakdown';

/** A row of a count list; rows with `onSelect` are buttons that filter the page by their value. */
export interface CountRow extends Row {
  /** A second line under the label (the host of a page when every site is shown). */
  sub?: string;
  selected?: boolean;
  onSelect?: () => void;
  /** What pressing the row does, for its title. */
  selectHint?: string;
}

/**
 * A table of values with their views and visitors, a bar for each row's share of views. Rows
 * that are not values of the dimension (no value, the rest beyond the limit) are set apart.
 */
export function CountList({ rows, label, testId, labelClass = 'value' }: { rows: CountRow[]; label: string; testId?: string; labelClass?: string }) {
  const max = Math.max(1, ...rows.map((r) => r.views));
  return (
    <table className="counts" data-testid={testId}>
      <thead>
        <tr>
          <th scope="col">{label}</th>
          <th scope="col" className="bar">
            <span className="visually-hidden">Share of views</span>
          </th>
          <th scope="col" className="num">
            Views
          </th>
          <th scope="col" className="num">
            Visitors
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.key} data-kind={r.kind} className={r.selected ? 'selected' : r.kind !== 'value' ? 'aside' : undefined}>
            <td className="label">
              {r.onSelect ? (
                <button type="button" className="row-button" aria-pressed={r.selected ?? false} onClick={r.onSelect} title={r.selectHint}>
                  <span className={labelClass}>{r.label}</span>
                  {r.sub !== undefined && <span className="sub">{r.sub}</span>}
                </button>
              ) : (
                <>
                  <span className={labelClass} title={r.value ?? r.label}>
                    {r.label}
                  </span>
                  {r.sub !== undefined && <span className="sub">{r.sub}</span>}
                </>
              )}
            </td>
            <td className="bar">
              <meter min={0} max={max} value={r.views} aria-hidden="true" />
            </td>
            <td className="num views">{formatCount(r.views)}</td>
            <td className="num visitors">{formatCount(r.visitors)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
