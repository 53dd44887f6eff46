import { useEffect, useState } from 'react';

/**
 * Date.now(), updated just after each whole minute: the windows end at the next whole
 * minute, so they must move on as soon as it passes (else what arrives after it is left out).
 */
export function useMinute(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setTimeout(() => setNow(Date.now()), 60_000 - (Date.now() % 60_000) + 20);
    return () => clearTimeout(t);
  }, [now]);
  return now;
}
