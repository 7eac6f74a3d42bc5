import react from '@vitejs/plugin-react';
import { defaultClientConditions, defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  // Take @tidewire/* from the workspace's sources (their `@tidewire/source` export condition),
  // so that a change in packages/ shows at once, without `pnpm build`. An app that installs the
  // packages from npm leaves this out.
  resolve: { conditions: ['@tidewire/source', ...defaultClientConditions] },
  server: { port: 5173, strictPort: true },
});
