// A QR code drawn as SVG elements on the page (no image URL: the CSP allows no data: URIs).
import { useMemo } from 'react';
import { create } from 'qrcode';

/** `text` as a QR code; `label` is its accessible name (say what it is for). */
export function QrCode({ text, label, size = 192 }: { text: string; label: string; size?: number }) {
  const path = useMemo(() => {
    const { modules } = create(text, { errorCorrectionLevel: 'M' });
    const n = modules.size;
    let d = '';
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) if (modules.data[y * n + x]) d += `M${x + 4} ${y + 4}h1v1h-1z`;
    return { d, n: n + 8 }; // a quiet zone of 4 modules around it
  }, [text]);
  return (
    <svg className="qr" role="img" aria-label={label} width={size} height={size} viewBox={`0 0 ${path.n} ${path.n}`}
      shapeRendering="crispEdges">
      <rect width={path.n} height={path.n} fill="#fff" />
      <path d={path.d} fill="#000" />
    </svg>
  );
}
