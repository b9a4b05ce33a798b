import { useEffect, useState } from "react";
import { mediaObjectUrl } from "../api/endpoints";
import { useApp } from "./context";

/** An image behind media's authenticated redirect: fetched with the token, shown from a blob. */
export function AuthImage({ path, alt, className, width, height }: { path: string; alt: string; className?: string; width?: number; height?: number }) {
  const { session } = useApp();
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let objectUrl: string | null = null;
    let live = true;
    mediaObjectUrl(session, path).then(
      (u) => {
        objectUrl = u;
        if (live) setUrl(u);
        else URL.revokeObjectURL(u);
      },
      () => live && setFailed(true),
    );
    return () => {
      live = false;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [session, path]);
  if (failed) return <span className="text-sm text-muted">[{alt}: could not load]</span>;
  if (!url) return <span role="img" aria-label={`${alt} (loading)`} className={`inline-block animate-pulse bg-hover ${className ?? ""}`} style={{ width, height }} />;
  return <img src={url} alt={alt} className={className} width={width} height={height} />;
}
