// Next.js needs no configuration for Tidewire: `@tidewire/react` starts with 'use client', and
// the built packages are plain JavaScript. These two keep `next dev` from writing AGENTS.md here.
export default {
  agentRules: false,
  experimental: { agentUpgrade: false },
};
