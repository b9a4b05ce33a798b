import { createContext, useContext } from "react";
import type { Session } from "../api/client";
import type { Api } from "../api/endpoints";
import type { GatewayConnection, GatewayStatus } from "../gateway/connection";
import type { Action, State } from "../state/store";
import type { VoiceView } from "../voice/engine";

export interface VoiceControls {
  join: (channelId: string) => void;
  leave: () => void;
  setMute: (on: boolean) => void;
  setDeaf: (on: boolean) => void;
  view: VoiceView;
}

export interface AppContextValue {
  session: Session;
  api: Api;
  state: State;
  dispatch: (action: Action) => void;
  gateway: GatewayConnection | null;
  status: GatewayStatus;
  voice: VoiceControls;
}

export const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
  const value = useContext(AppContext);
  if (!value) throw new Error("useApp outside the signed-in app");
  return value;
}
