import { render } from '@testing-library/react';
import { create } from 'qrcode';
import { QrCode } from './QrCode';
import { matrixRects, qrGeometry } from './qr';

const URI = 'otpauth://totp/Cairn:kim@acme.test?secret=JBSWY3DPEHPK3PXP&issuer=Cairn&digits=6&period=30';

describe('QR code geometry', () => {
  test('runs of dark modules become one rectangle each, offset by the quiet zone', () => {
    const m = [
      [1, 1, 0, 1],
      [0, 0, 0, 0],
      [1, 1, 1, 1],
      [0, 1, 0, 0],
    ];
    expect(matrixRects(4, (r, c) => m[r][c] === 1, 2)).toEqual([
      { x: 2, y: 2, w: 2 }, { x: 5, y: 2, w: 1 },
      { x: 2, y: 4, w: 4 },
      { x: 3, y: 5, w: 1 },
    ]);
    expect(matrixRects(3, () => false)).toEqual([]);
  });

  test('the rectangles cover exactly the dark modules of qrcode\'s matrix', () => {
    const { modules } = create(URI, { errorCorrectionLevel: 'M' });
    const g = qrGeometry(URI);
    expect(g.size).toBe(modules.size);
    expect(g.extent).toBe(modules.size + 8);
    const painted = new Set<string>();
    for (const r of g.rects) for (let i = 0; i < r.w; i++) painted.add(`${r.y - 4},${r.x - 4 + i}`);
    for (let y = 0; y < modules.size; y++) {
      for (let x = 0; x < modules.size; x++) expect(painted.has(`${y},${x}`)).toBe(!!modules.get(y, x));
    }
  });
});

describe('QrCode', () => {
  test('draws SVG rects (no image, no data: URI), labelled for assistive technology', () => {
    const { container, getByRole } = render(<QrCode text={URI} label="QR code for the app" />);
    const svg = getByRole('img', { name: 'QR code for the app' });
    expect(svg.tagName.toLowerCase()).toBe('svg');
    const g = qrGeometry(URI);
    expect(svg.getAttribute('viewBox')).toBe(`0 0 ${g.extent} ${g.extent}`);
    const modules = container.querySelectorAll('rect.qr-module');
    expect(modules).toHaveLength(g.rects.length);
    expect(modules[0].getAttribute('x')).toBe(String(g.rects[0].x));
    expect(modules[0].getAttribute('width')).toBe(String(g.rects[0].w));
    expect(container.querySelectorAll('image, img')).toHaveLength(0);
    expect(container.innerHTML).not.toContain('data:');
  });
});
