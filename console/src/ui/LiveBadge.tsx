/** "Live" while a realtime channel streams to the page (lib/realtime useChannelLive). Keeps its
 *  place when not live, so nothing moves. */
export function LiveBadge({ live }: { live: boolean }) {
  return (
    <span className={live ? 'live-badge live-badge-on' : 'live-badge'} role="status">
      {live ? 'Live' : 'Not live'}
    </span>
  );
}
