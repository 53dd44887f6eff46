// A sentiment as a word and a number (never colour alone), in the tokens' colours.
import type { Sentiment as Score } from '@cairn/sdk';
import { formatNumber } from '../../lib/format';

const LABELS: Record<string, string> = { positive: 'Positive', neutral: 'Neutral', negative: 'Negative' };

export function SentimentBadge({ sentiment, pending }: { sentiment: Score | null | undefined; pending?: boolean }) {
  if (!sentiment) {
    return <span className="sentiment sentiment-none">{pending ? 'Not analysed yet' : 'No score'}</span>;
  }
  return (
    <span className={`sentiment sentiment-${sentiment.label}`}>
      {LABELS[sentiment.label] ?? sentiment.label}
      <span className="sentiment-score num"> {formatNumber(sentiment.compound, 2)}</span>
    </span>
  );
}

/** An average compound score (-1..1) with its word, as the API's label thresholds. */
export function AverageSentiment({ value }: { value: number | null | undefined }) {
  if (value == null) return <span className="sentiment sentiment-none">No score</span>;
  const label = value >= 0.05 ? 'positive' : value <= -0.05 ? 'negative' : 'neutral';
  return (
    <span className={`sentiment sentiment-${label}`}>
      {LABELS[label]}<span className="sentiment-score num"> {formatNumber(value, 2)}</span>
    </span>
  );
}

export const CHANNELS = ['web', 'mobile', 'email', 'chat', 'phone'] as const;
export type Channel = typeof CHANNELS[number];
const CHANNEL_LABELS: Record<string, string> = { web: 'Web', mobile: 'Mobile', email: 'E-mail', chat: 'Chat', phone: 'Phone' };
export function channelLabel(c: string): string {
  return CHANNEL_LABELS[c] ?? c;
}
