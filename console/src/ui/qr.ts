// A QR code as SVG geometry (ui/QrCode), computed here from the text (the otpauth:// URI): the page's
// CSP allows no data: images, so the server's PNG is not used. qrcode's create() gives the
// module matrix; each row's runs of dark modules become one rectangle.
import { create } from 'qrcode';

export interface QrRect { x: number; y: number; w: number }

export interface QrGeometry {
  /** Modules per side, without the quiet zone. */
  size: number;
  /** Width of the viewBox: the modules plus a quiet zone of `margin` on each side. */
  extent: number;
  /** Dark runs: x, y and width in modules (height 1), already offset by the margin. */
  rects: QrRect[];
}

/** A module matrix (row-major, truthy = dark) as horizontal runs of dark modules. */
export function matrixRects(size: number, dark: (row: number, col: number) => boolean, margin = 4): QrRect[] {
  const rects: QrRect[] = [];
  for (let y = 0; y < size; y++) {
    let start = -1;
    for (let x = 0; x <= size; x++) {
      const on = x < size && dark(y, x);
      if (on && start < 0) start = x;
      if (!on && start >= 0) {
        rects.push({ x: start + margin, y: y + margin, w: x - start });
        start = -1;
      }
    }
  }
  return rects;
}

/** The QR code of `text` (error correction M). */
export function qrGeometry(text: string, margin = 4): QrGeometry {
  const { modules } = create(text, { errorCorrectionLevel: 'M' });
  return {
    size: modules.size,
    extent: modules.size + 2 * margin,
    rects: matrixRects(modules.size, (r, c) => !!modules.get(r, c), margin),
  };
}
