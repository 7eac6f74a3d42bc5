import { TidewirePlugin } from '@tidewire/vue';
import { createApp } from 'vue';
import App from './App.vue';
import { client } from './tidewire';

createApp(App).use(TidewirePlugin, { client }).mount('#app');
