import { Component, Suspense, useEffect, useRef, useState, type ReactNode } from 'react';

/**
 * Renders `children` once `ready` and its place comes near the screen (or at once where there
 * is no IntersectionObserver). With a React.lazy child, its code is fetched only then, so what is
 * below the first screen never weighs on the first load. A chunk that fails to load shows a
 * message instead of taking the page down.
 */
export function Later(props: { children: ReactNode; placeholder: ReactNode; label: string; ready: boolean; tall?: boolean }) {
  const { children, placeholder, label, ready } = props;
  // A tall placeholder keeps what follows it as far down as it will be once loaded.
  const cls = props.tall ? 'later later-tall' : 'later';
  const box = useRef<HTMLDivElement>(null);
  const [near, setNear] = useState(false);
  useEffect(() => {
    const el = box.current;
    // Until the first screen has its numbers its cards are short, and everything looks near.
    if (near || !ready || !el) return;
    if (typeof IntersectionObserver === 'undefined') {
      setNear(true);
      return;
    }
    const io = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && setNear(true), { rootMargin: '200px 0px' });
    io.observe(el);
    return () => io.disconnect();
  }, [near, ready]);
  if (!near) {
    return (
      <div ref={box} className={cls} aria-busy="true">
        {placeholder}
      </div>
    );
  }
  return (
    <LoadFailed label={label}>
      <Suspense fallback={<div className={cls}>{placeholder}</div>}>{children}</Suspense>
    </LoadFailed>
  );
}

/** Catches a lazy chunk that could not be loaded (a new release replaced it, the network failed). */
class LoadFailed extends Component<{ label: string; children: ReactNode }, { failed: boolean }> {
  override state = { failed: false };
  static getDerivedStateFromError() {
    return { failed: true };
  }
  override render() {
    if (!this.state.failed) return this.props.children;
    return (
      <div className="card" role="alert">
        <p className="error">Could not load {this.props.label}. Reload the page to try again.</p>
      </div>
    );
  }
}
