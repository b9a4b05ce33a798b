import { useEffect, useId, useRef, type ReactNode } from "react";

/** A modal dialog: labelled, focus moved inside on open and back on close, Escape closes. */
export function Dialog({ title, onClose, children, wide }: { title: string; onClose: () => void; children: ReactNode; wide?: boolean }) {
  const id = useId();
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const first = box.current?.querySelector<HTMLElement>("input, select, textarea, button:not([data-close])");
    first?.focus();
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") onClose();
    };
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("keydown", onKey);
      before?.focus();
    };
  }, [onClose]);
  return (
    <div className="fixed inset-0 z-40 flex items-center justify-center bg-black/60 p-2" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div
        ref={box}
        role="dialog"
        aria-modal="true"
        aria-labelledby={id}
        className={`max-h-full w-full ${wide ? "max-w-3xl" : "max-w-md"} overflow-auto rounded-lg bg-panel p-5 text-fg shadow-xl`}
      >
        <div className="mb-4 flex items-center justify-between">
          <h2 id={id} className="text-lg font-semibold">
            {title}
          </h2>
          <button data-close aria-label="Close" onClick={onClose} className="rounded px-2 text-xl text-muted hover:bg-hover">
            ×
          </button>
        </div>
        {children}
      </div>
    </div>
  );
}
