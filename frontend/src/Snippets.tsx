// "Add prawn to your site": copy-paste snippets built from the origin this page is served from,
// and a live preview of the badge. Loaded lazily (App's <Later>): not on the first screen.

import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { badgePathProblem, buildSnippets, DEFAULT_BADGE_PATH } from './lib/snippets';

/** The section with the tracker, the pixel and the badge, for this prawn's origin. */
export default function Snippets() {
  const origin = window.location.origin;
  const inputId = useId();
  const [typed, setTyped] = useState(DEFAULT_BADGE_PATH);
  const [badgePath, setBadgePath] = useState(DEFAULT_BADGE_PATH); // the last path that can be used
  const [badgeFailed, setBadgeFailed] = useState(false);
  const problem = badgePathProblem(typed);
  const s = buildSnippets(origin, badgePath);

  return (
    <section className="card prose snippets" aria-labelledby="add-title" data-testid="snippets">
      <h2 id="add-title">Add prawn to your site</h2>
      <p>
        Paste one of these into your pages. They count on this server, <code>{origin}</code>; the numbers show up here
        under the page's site.
      </p>

      <Snippet title="On any page" text={s.script} testId="snippet-script">
        <p>
          One line in the page's <code>&lt;head&gt;</code> or <code>&lt;body&gt;</code>. It counts the page with its referrer
          and <code>utm_*</code> campaign, and each navigation of a single-page app. No cookies.
        </p>
      </Snippet>

      <Snippet title="Pages without JavaScript" text={s.pixel} testId="snippet-pixel">
        <p>
          An invisible image for readers without JavaScript; replace <code>/x</code> with the page's path. The site is taken
          from the page's address the browser sends with the image.
        </p>
      </Snippet>

      <Snippet title="A badge for a README" text={s.badge} testId="snippet-badge">
        <p>
          Markdown for a README or any page that shows images: <code>record=true</code> counts a view each time the badge is
          shown, and the badge shows the count.
        </p>
        <div className="field badge-path">
          <label htmlFor={inputId}>Path the badge counts</label>
          <input
            id={inputId}
            type="text"
            value={typed}
            spellCheck={false}
            autoComplete="off"
            aria-invalid={problem !== undefined}
            aria-describedby={problem ? `${inputId}-problem` : undefined}
            onChange={(e) => {
              const v = e.target.value;
              setTyped(v);
              if (!badgePathProblem(v)) {
                setBadgePath(v);
                setBadgeFailed(false);
              }
            }}
          />
          {problem && (
            <p className="error small" id={`${inputId}-problem`}>
              {problem}
            </p>
          )}
        </div>
      </Snippet>

      <figure className="badge-preview">
        <img src={s.previewSrc} alt={`views badge of ${badgePath}`} data-testid="badge-preview" onError={() => setBadgeFailed(true)} onLoad={() => setBadgeFailed(false)} />
        <figcaption className="muted small">
          Preview of <code>{badgePath}</code>'s badge, as it is now (showing it here counts nothing).
          {badgeFailed && <span className="error"> The badge could not be loaded from this server.</span>}
        </figcaption>
      </figure>
    </section>
  );
}

/** One snippet: what it is for, its text, and a button that copies it. */
function Snippet({ title, text, testId, children }: { title: string; text: string; testId: string; children: ReactNode }) {
  const code = useRef<HTMLElement>(null);
  const [status, setStatus] = useState('');
  useEffect(() => {
    if (!status) return;
    const id = window.setTimeout(() => setStatus(''), 4000);
    return () => window.clearTimeout(id);
  }, [status]);
  useEffect(() => setStatus(''), [text]);

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setStatus('Copied.');
    } catch {
      // No clipboard API (a page served over plain HTTP from another machine) or no permission:
      // select the text so the reader can copy it, and try the older command.
      const el = code.current;
      const sel = window.getSelection();
      if (el && sel) {
        sel.selectAllChildren(el);
        setStatus(document.execCommand('copy') ? 'Copied.' : 'Selected: press Ctrl+C (⌘C on a Mac) to copy.');
      } else {
        setStatus('Select the text to copy it.');
      }
    }
  };

  return (
    <div className="snippet">
      <h3>{title}</h3>
      {children}
      <div className="snippet-code">
        <pre>
          <code ref={code} data-testid={testId}>
            {text}
          </code>
        </pre>
        <button type="button" onClick={copy} aria-label={`Copy: ${title}`}>
          Copy
        </button>
      </div>
      <p className="muted small copy-status" role="status">
        {status}
      </p>
    </div>
  );
}
