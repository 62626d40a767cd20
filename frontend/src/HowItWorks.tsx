/** How prawn records, folds and reads views, in four steps. */
export function HowItWorks() {
  return (
    <section className="card prose" aria-labelledby="how-title">
      <h2 id="how-title">How it works</h2>
      <ol>
        <li>
          <strong>Recording.</strong> Each view (<code>POST /api/views</code>, or loading this page) is one row inserted
          into Postgres. The server answers only after the row is committed, so an acknowledged view is never lost.
        </li>
        <li>
          <strong>Visitors.</strong> Without cookies: a visitor is a keyed hash of the site, the client's address and its
          browser under the day's random salt, which is destroyed an hour after the UTC day ends; neither the address nor the browser's
          User-Agent is stored, only the browser's, system's and device's names.
        </li>
        <li>
          <strong>Rollups.</strong> A scheduled job folds the new raw rows into rollups, exactly once: hourly and
          daily counts per site and per page, and daily breakdowns by referrer, campaign, browser, system, device and
          country. A view is counted once and never twice, even when a run is retried.
        </li>
        <li>
          <strong>Reads.</strong> A count is the rollups plus the tail of views not yet rolled up, so numbers are exact the
          moment a view is recorded; “updated … ago” says how far the rollups reach.
        </li>
        <li>
          <strong>Running it.</strong> The same code runs as one binary on your machine (with its own Postgres if you have
          none) or as AWS Lambda functions behind CloudFront, with the rollup on a schedule.
        </li>
      </ol>
    </section>
  );
}
