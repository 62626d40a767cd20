import { lazy, Suspense, useEffect, useState } from 'react';
import { onAuthProblem, type AuthProblem } from './token';

const TokenForm = lazy(() => import('./TokenForm').then((m) => ({ default: m.TokenForm })));

/**
 * Asks for an API token when the server wants one (PRAWN_STATS=private) and keeps it in this
 * browser's local storage, never in a URL. It shows nothing until a call is refused; the form
 * (TokenForm) is then fetched. Saving or forgetting the token reloads the page, so every number
 * is asked for again with it.
 */
export function TokenPrompt({ reload = () => window.location.reload() }: { reload?: () => void }) {
  const [problem, setProblem] = useState<AuthProblem | undefined>();
  useEffect(() => onAuthProblem((p) => setProblem((cur) => cur ?? p)), []);
  if (!problem) return null;
  return (
    <Suspense fallback={null}>
      <TokenForm problem={problem} reload={reload} />
    </Suspense>
  );
}
