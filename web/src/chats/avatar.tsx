import { initials } from "../lib/format";
import { useMediaUrl } from "../lib/media";

/** A round avatar: the picture when there is one I may see, else initials. Decorative (the name is beside it). */
export function Avatar({ name, mediaId, size = 40 }: { name: string; mediaId?: string | null; size?: number }) {
  const url = useMediaUrl(mediaId);
  const cls = `avatar avatar-${size}`;
  return url ? (
    <img class={cls} src={url} alt="" />
  ) : (
    <span class={cls} aria-hidden="true">
      {initials(name)}
    </span>
  );
}
