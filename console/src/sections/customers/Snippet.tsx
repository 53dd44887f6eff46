// A search hit's snippet: the API sends it as segments ({text, match}), so the matches become
// <mark> elements built as React nodes. The text is only ever a text node: whatever markup
// the stored content holds is shown as characters, never parsed.
import type { ReactNode } from 'react';

export interface SnippetPart {
  text: string;
  match: boolean;
}

/** The segments as React nodes: matched ones in <mark>, the rest as plain text. */
export function snippetNodes(parts: readonly SnippetPart[] | null | undefined): ReactNode[] {
  if (!Array.isArray(parts)) return [];
  return parts.map((p, i) => {
    const text = typeof p?.text === 'string' ? p.text : '';
    return p?.match ? <mark key={i}>{text}</mark> : <span key={i}>{text}</span>;
  });
}

export function Snippet({ parts, className }: { parts: readonly SnippetPart[] | null | undefined; className?: string }) {
  return <p className={['snippet', className].filter(Boolean).join(' ')}>{snippetNodes(parts)}</p>;
}
