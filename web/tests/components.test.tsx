// @vitest-environment jsdom
import { cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { CountBadge } from '@/components/CopyCounter';
import FormatPreview, { captionsUrl } from '@/components/FormatPreview';
import { sortRows } from '@/components/pages/Campaigns';
import { displayKeys } from '@/components/pages/Creatives';
import { mergeCurves } from '@/components/mmm/MmmResults';

afterEach(cleanup);

describe('CountBadge', () => {
  it('shows the count against the limit and says when it is over', () => {
    render(<CountBadge platform="google" field="headline" text={'h'.repeat(33)} />);
    const badge = screen.getByText(/33\/30/);
    expect(badge.getAttribute('data-state')).toBe('over');
    expect(badge.textContent).toContain('3 over the limit');
  });

  it('is calm within the limit', () => {
    render(<CountBadge platform="meta" field="primary_text" text="Fresh sourdough every morning." />);
    expect(screen.getByText(/30\/125/).getAttribute('data-state')).toBe('ok');
  });
});

describe('FormatPreview', () => {
  it('draws the format at its aspect ratio with the safe zones on demand', () => {
    const { container, rerender } = render(<FormatPreview formatKey="meta_stories" assetId="a1" showZones={false} alt="Bread" />);
    const box = container.querySelector('[data-format="meta_stories"] div') as HTMLElement;
    expect(box.style.aspectRatio).toBe('1080 / 1920');
    expect(container.querySelectorAll('[data-testid="safe-zone"]')).toHaveLength(0);
    expect(screen.getByRole('img').getAttribute('src')).toBe('/api/assets/a1/content');
    rerender(<FormatPreview formatKey="meta_stories" assetId="a1" showZones alt="Bread" />);
    const zones = container.querySelectorAll<HTMLElement>('[data-testid="safe-zone"]');
    expect(zones).toHaveLength(2);
    expect(zones[1].style.top).toBe('80%');
    expect(zones[1].style.height).toBe('20%');
  });

  it('plays a video with its poster and captions of the ad text', () => {
    const { container } = render(<FormatPreview formatKey="video:tiktok_in_feed" assetId="v1" posterId="p1" showZones={false} alt="Bread --> now" />);
    const video = container.querySelector('video')!;
    expect(video.getAttribute('poster')).toBe('/api/assets/p1/content');
    expect(container.querySelector('track')?.getAttribute('kind')).toBe('captions');
    expect(decodeURIComponent(captionsUrl('Bread --> now'))).toContain('Bread → now');
  });
});

describe('page logic', () => {
  const campaign = (name: string) => ({ id: name, name, objective: 'sales', status: 'active', currency: 'USD', daily_budget: '1', start_date: '2026-01-01', end_date: null, platforms: ['sandbox'], brief: null, version: 1, created_at: 0, updated_at: 0 });
  it('sorts campaigns with rows lacking a value last', () => {
    const rows = [
      { campaign: campaign('a'), budgetMicros: 1, totals: null, reportError: null },
      { campaign: campaign('b'), budgetMicros: 2, totals: { impressions: 10, clicks: 1, spendMicros: 5, conversions: 0, revenueMicros: 0 }, reportError: null },
      { campaign: campaign('c'), budgetMicros: 3, totals: { impressions: 10, clicks: 2, spendMicros: 9, conversions: 1, revenueMicros: 0 }, reportError: null },
    ];
    expect(sortRows(rows, 'spend', false).map((r) => r.campaign.id)).toEqual(['c', 'b', 'a']);
    expect(sortRows(rows, 'spend', true).map((r) => r.campaign.id)).toEqual(['b', 'c', 'a']);
    expect(sortRows(rows, 'cpa', true).map((r) => r.campaign.id)).toEqual(['c', 'a', 'b']);
    expect(sortRows(rows, 'name', false).map((r) => r.campaign.id)).toEqual(['c', 'b', 'a']);
  });

  it('shows images before videos and hides posters', () => {
    expect(displayKeys({ 'video:tiktok_in_feed': 'v', 'poster:tiktok_in_feed': 'p', meta_feed_square: 'm' })).toEqual(['meta_feed_square', 'video:tiktok_in_feed']);
  });

  it('puts response curves on one axis', () => {
    const merged = mergeCurves([
      { name: 'tv', response_curve: [[0, 0], [10, 5]] },
      { name: 'search', response_curve: [[0, 0], [5, 4]] },
    ] as never);
    expect(merged.x).toEqual([0, 5, 10]);
    expect(merged.series[0].values).toEqual([0, null, 5]);
    expect(merged.series[1].values).toEqual([0, 4, null]);
  });
});
