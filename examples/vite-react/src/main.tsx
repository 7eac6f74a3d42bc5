import { TidewireProvider } from '@tidewire/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { client } from './tidewire';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <TidewireProvider client={client}>
      <App />
    </TidewireProvider>
  </StrictMode>,
);
