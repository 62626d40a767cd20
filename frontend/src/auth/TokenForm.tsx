import { useId, useState, type FormEvent } from 'react';
import { getToken, setToken, type AuthProblem } from './token';

const MESSAGES: Record<AuthProblem['kind'], string> = {
  missing:
    'The stats of this prawn are private. Paste a token of scope read to see them; the operator makes one with `prawn token create --name NAME --scope read`.',
  invalid:
    'The saved token is not valid: it may have been revoked, or copied in part. Paste a new one, or forget it.',
  scope: 'The saved token may not read this. Ask the operator for a token of scope read (or export, or admin).',
};

/**
 * The token form of TokenPrompt, for the problem the server answered: its own chunk, fetched
 * only when a call is refused, so that public stats never load it.
 */
export function TokenForm({ problem, reload }: { problem: AuthProblem; reload: () => void }) {
  const [value, setValue] = useState('');
  const inputId = useId();
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
