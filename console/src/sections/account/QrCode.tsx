// The QR code as SVG elements (no image, no data: URI). Dark modules on a light ground in
// both themes: scanners need the contrast, whatever the page's colours.
import { useMemo } from 'react';
import { qrGeometry } from './qr';

export function QrCode({ text, label, size = 200 }: { text: string; label: string; size?: number }) {
  const g = useMemo(() => qrGeometry(text), [text]);
  return (
    <svg className="qr-code" role="img" aria-label={label} width={size} height={size}
      viewBox={`0 0 ${g.extent} ${g.extent}`} shapeRendering="crispEdges">
      <rect className="qr-ground" x={0} y={0} width={g.extent} height={g.extent} />
      {g.rects.map((r) => <rect key={`${r.x},${r.y}`} className="qr-module" x={r.x} y={r.y} width={r.w} height={1} />)}
    </svg>
  );
}
