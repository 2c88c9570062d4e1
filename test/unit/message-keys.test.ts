import { userMessageId } from '../../src/turns/message-keys';

describe('userMessageId', () => {
  it('is a v5-layout UUID, the same for the same run and index, different otherwise', () => {
    const run = '5d0c8b7e-1f2a-4b3c-8d4e-5f6a7b8c9d0e';
    const id = userMessageId(run, 0);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(userMessageId(run, 0)).toBe(id);
    expect(userMessageId(run, 1)).not.toBe(id);
    expect(userMessageId('6d0c8b7e-1f2a-4b3c-8d4e-5f6a7b8c9d0e', 0)).not.toBe(id);
  });
});
