import { render } from '@testing-library/react';
import { Snippet } from './Snippet';

describe('Snippet', () => {
  test('matched segments become <mark>, the rest plain text, in order', () => {
    const { container } = render(<Snippet parts={[
      { text: 'the ', match: false }, { text: 'courier', match: true }, { text: ' was ', match: false },
      { text: 'lovely', match: true },
    ]} />);
    const p = container.querySelector('p.snippet')!;
    expect(p.textContent).toBe('the courier was lovely');
    expect([...p.querySelectorAll('mark')].map((m) => m.textContent)).toEqual(['courier', 'lovely']);
  });

  test('markup in the text stays text: no element is created from it and nothing runs', () => {
    const ran = vi.fn();
    (window as unknown as { __pwned: () => void }).__pwned = ran;
    const hostile = [
      { text: '<img src=x onerror="window.__pwned()"> ', match: false },
      { text: '<script>window.__pwned()</script>', match: true },
      { text: ' <b>bold</b> &amp; <mark>fake</mark>', match: false },
    ];
    const { container } = render(<Snippet parts={hostile} />);
    const p = container.querySelector('p.snippet')!;
    expect(p.querySelector('img, script, b')).toBeNull();
    // the only <mark> is the one made for the match; the text's own "<mark>" is characters
    expect(p.querySelectorAll('mark')).toHaveLength(1);
    expect(p.querySelector('mark')!.textContent).toBe('<script>window.__pwned()</script>');
    expect(p.textContent).toBe('<img src=x onerror="window.__pwned()"> <script>window.__pwned()</script> <b>bold</b> &amp; <mark>fake</mark>');
    expect(ran).not.toHaveBeenCalled();
  });

  test('no snippet, or malformed parts, render nothing rather than failing', () => {
    const { container, rerender } = render(<Snippet parts={undefined} />);
    expect(container.textContent).toBe('');
    rerender(<Snippet parts={[{ text: undefined as unknown as string, match: true }, { text: 'ok', match: false }]} />);
    expect(container.textContent).toBe('ok');
  });
});
