import { afterEach, describe, expect, it, vi } from 'vitest';
import { act, renderHook } from '@testing-library/react';
import { useMinute } from './useMinute';
import { windows } from './filters';

afterEach(() => vi.useRealTimers());

describe('useMinute', () => {
  it('moves on just after each whole minute, so a window never ends in the past', () => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.UTC(2026, 11, 7, 10, 30, 50));
    const { result } = renderHook(() => useMinute());
    const first = windows('24h', result.current).current.to;
    expect(first).toBe(Date.UTC(2026, 11, 7, 10, 31));
    act(() => { vi.advanceTimersByTime(10_500); }); // 10:31:00.5
    expect(windows('24h', result.current).current.to).toBe(Date.UTC(2026, 11, 7, 10, 32));
    act(() => { vi.advanceTimersByTime(60_000); });
    expect(windows('24h', result.current).current.to).toBe(Date.UTC(2026, 11, 7, 10, 33));
  });
});
