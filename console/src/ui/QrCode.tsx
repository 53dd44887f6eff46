// A QR code drawn as SVG elements on the page (no image URL: the CSP allows no data: URIs).
// Dark modules on a light ground in both themes: scanners need that contrast.
import { useMemo } from 'react';
import { qrGeometry } from './qr';

/** `text` as a QR code; `label` is its accessible name (say what it is for). */
export function QrCode({ text, label, size = 192 }: { text: string; label: string; size?: number }) {
  const g = useMemo(() => qrGeometry(text), [text]);
  return (
    <svg className="qr" role="img" aria-label={label} width={size} height={size} viewBox={`0 0 ${g.extent} ${g.extent}`}
      shapeRendering="crispEdges">
      <rect width={g.extent} height={g.extent} fill="#fff" />
      {g.rects.map((r) => <rect key={`${r.x},${r.y}`} className="qr-module" x={r.x} y={r.y} width={r.w} height={1} fill="#000" />)}
    </svg>
  );
}
