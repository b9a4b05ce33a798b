/** A user's picture: their uploaded avatar (media's public route, no token needed) or their
 * initial. Avatar URLs elsewhere (any http(s) address a user typed) are not loaded: a picture
 * from a third party would tell it who reads the channel. */
export function Avatar({ user, size = 32 }: { user: { username: string; avatar_url?: string | null }; size?: number }) {
  const url = user.avatar_url?.startsWith("/api/v1/media/public/") ? `${user.avatar_url}/thumbnails/256` : null;
  return url ? (
    <img src={url} alt="" width={size} height={size} className="rounded-full object-cover" style={{ width: size, height: size }} />
  ) : (
    <span
      aria-hidden="true"
      className="flex items-center justify-center rounded-full bg-accent text-sm font-semibold text-white"
      style={{ width: size, height: size }}
    >
      {[...user.username][0]?.toUpperCase()}
    </span>
  );
}
