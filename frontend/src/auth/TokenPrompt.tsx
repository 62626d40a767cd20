import { useEffect, useId, useState, type FormEvent } from 'react';
import { getToken, onAuthProblem, setToken, type AuthProblem } from './token';

const MESSAGES: Record<AuthProblem['kind'], string> = {
  missing:
    'The stats of this prawn are private. Paste a token of scope read to see them; the operator makes one with `prawn token create --name NAME --scope read`.',
  invalid:
    'The saved token is not valid: it may have been revoked, or copied in part. Paste a new one, or forget it.',
  scope: 'The saved token may not read this. Ask the operator for a token of scope read (or export, or admin).',
};

/**
 * Asks for an API token when the server wants one (PRAWN_STATS=private) and keeps it in this
 * browser's local storage, never in a URL. It shows nothing until a call is refused. Saving or
 * forgetting the token reloads the page, so every number is asked for again with it.
 */
export function TokenPrompt({ reload = () => window.location.reload() }: { reload?: () => void }) {
  const [problem, setProblem] = useState<AuthProblem | undefined>();
  const [value, setValue] = useState('');
  const inputId = useId();
  useEffect(() => onAuthProblem((p) => setProblem((cur) => cur ?? p)), []);
  if (!problem) return null;
  const save = (e: FormEvent) => {
    e.preventDefault();
    if (!value.trim()) return;
    setToken(value);
    reload();
  };
  const forget = () => {
    setToken('');
    reload();
  };
  return (
    <section className="card token-prompt" role="alertdialog" aria-labelledby={`${inputId}-title`} data-testid="token-prompt">
      <h2 id={`${inputId}-title`}>A token is needed</h2>
      <p>{MESSAGES[problem.kind]}</p>
      {problem.detail && <p className="muted small">The server said: {problem.detail}</p>}
      <form onSubmit={save}>
        <label htmlFor={inputId}>API token</label>{' '}
        <input
          id={inputId}
          type="password"
          autoComplete="off"
          spellCheck={false}
          placeholder="prawn_…"
          value={value}
          onChange={(e) => setValue(e.target.value)}
        />{' '}
        <button type="submit" disabled={!value.trim()}>
          Save and reload
        </button>{' '}
        {getToken() && (
          <button type="button" onClick={forget}>
            Forget the saved token
          </button>
        )}
      </form>
      <p className="muted small">The token stays in this browser (local storage) and is sent only to this server, in a header.</p>
    </section>
  );
}
