import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module script without types
import { hashOf, inlineScripts } from '../scripts/csp-hashes.mjs';

describe('csp-hashes', () => {
  it('hashes inline executable scripts only, exactly as written', () => {
    const html =
      '<html><head><script src="/_next/a.js" async=""></script><script>self.__next_f=[]</script></head>' +
      '<body><script type="application/json">{"a":1}</script><script type="module">import("x")</script><SCRIPT>\n1\n</SCRIPT></body></html>';
    const scripts = inlineScripts(html);
    expect(scripts).toEqual(['self.__next_f=[]', 'import("x")', '\n1\n']);
    const expected = createHash('sha256').update('self.__next_f=[]').digest('base64');
    expect(hashOf(scripts[0])).toBe(`sha256-${expected}`);
  });
});
