import { randomInt } from 'node:crypto';
import type { BinaryNode } from '@whiskeysockets/baileys';
import { type KeyPair, newKeyPair } from './certificates.js';
import type { SimConnection } from './connection.js';
import type { ReceivedDetails } from './content.js';
import { Phone, type PhoneState, type PreKeyBundle } from './phone.js';

/** A companion device (Baileys) linked to an account, with the Signal bundle it uploaded. */
export type LinkedDevice = {
  id: number;
  keyIndex: number;
  noiseKey: Buffer;
  identityKey: Buffer;
  registrationId: number;
  signedPreKey: { keyId: number; publicKey: Buffer; signature: Buffer };
  preKeys: Map<number, Buffer>;
  connection?: SimConnection;
  /** Whether the phone already sent this device its history sync notification. */
  historySent: boolean;
  /**
   * Stanzas for this device that it has not answered yet (a message with a receipt, a receipt with an
   * ack), in order, by `pendingKey`.
   */
  pending: Map<string, BinaryNode>;
};

/**
 * Where a stanza waits in a device's queue. A receipt shares its id with the message it is about, and
 * a device can hold both (a copy of a message its own account sent, and the contact's receipt for it),
 * so receipts are keyed by their type as well.
 */
export const pendingKey = (tag: string, id: string | undefined, type?: string) =>
  tag === 'receipt' ? `receipt ${type ?? 'delivery'} ${id ?? ''}` : `${tag} ${id ?? ''}`;

/** The receipts a contact's phone sends for a message, in the order a message's status moves. */
export const RECEIPT_TYPES = ['delivery', 'read', 'played'] as const;
export type ReceiptType = (typeof RECEIPT_TYPES)[number];

/** A message a phone received from a linked device and decrypted. */
export type Received = {
  from: string;
  id: string;
  text: string;
  at: string;
  enc: string;
  /** How many stanzas with this id reached the phone: more than 1 when the sender resent it. */
  deliveries: number;
  /** The furthest receipt the phone sent for it; it never sends one that goes back. */
  receipt: ReceiptType;
  /** What it was beyond a plain text (a file, a location, a reply...); none for a plain text. */
  details?: ReceivedDetails;
};

/** A message a phone sent to the linked devices of another account. */
export type Sent = {
  id: string;
  to: string;
  text: string;
  enc: string[];
  /** A linked device of the recipient sent a read receipt for it. */
  read?: boolean;
};

/** A phone number on WhatsApp: its phone (device 0) and linked devices. */
export type Account = {
  phone: string;
  lid: string;
  name: string;
  identity: KeyPair;
  device0: Phone;
  devices: Map<number, LinkedDevice>;
  nextDeviceId: number;
  nextKeyIndex: number;
  inbox: Received[];
  /** What this account's phone sent to linked devices: message id, text and the enc type per device. */
  sent: Sent[];
};

/** An account as saved: its phone's Signal state and its devices without their connections. */
export type AccountState = Omit<Account, 'device0' | 'devices'> & {
  device0: PhoneState;
  devices: Omit<LinkedDevice, 'connection'>[];
};

/** Any number of 8 to 15 digits is on WhatsApp, except those starting with 999. */
export const isOnWhatsApp = (phone: string) => /^\d{8,15}$/.test(phone) && !phone.startsWith('999');

/**
 * Every account of the simulated network, by phone number and by LID. Whatever changes an account,
 * its phone or its devices calls `changed()` (the phone does so itself), which the simulator saves on.
 */
export class World {
  private readonly byPhone = new Map<string, Account>();
  private readonly byLid = new Map<string, Account>();

  /** `onChange` hears of every change; `saved` are the accounts to start with. */
  constructor(
    private readonly onChange: () => void = () => {},
    saved: AccountState[] = [],
  ) {
    for (const a of saved) {
      this.add({
        ...a,
        device0: new Phone(a.identity, onChange, a.device0),
        devices: new Map(a.devices.map((d) => [d.id, { ...d }])),
      });
    }
  }

  /** Call after changing an account, a device or a list in them. */
  changed() {
    this.onChange();
  }

  /** The account of `phone`, created on first use; undefined when the number is not on WhatsApp. */
  account(phone: string, name?: string): Account | undefined {
    const existing = this.byPhone.get(phone);
    if (existing) {
      if (name && name !== existing.name) {
        existing.name = name;
        this.changed();
      }
      return existing;
    }
    if (!isOnWhatsApp(phone)) return undefined;
    let lid: string;
    do lid = String(randomInt(10 ** 13, 10 ** 14 - 1)) + String(randomInt(0, 9));
    while (this.byLid.has(lid));
    const identity = newKeyPair();
    const account: Account = {
      phone,
      lid,
      name: name ?? `Contact ${phone}`,
      identity,
      device0: new Phone(identity, this.onChange),
      devices: new Map(),
      nextDeviceId: 1,
      nextKeyIndex: 1,
      inbox: [],
      sent: [],
    };
    this.add(account);
    this.changed();
    return account;
  }

  private add(account: Account) {
    this.byPhone.set(account.phone, account);
    this.byLid.set(account.lid, account);
  }

  /** The existing account a user part (phone number or LID) names. */
  find(user: string, server: string): Account | undefined {
    return server === 'lid' ? this.byLid.get(user) : this.byPhone.get(user);
  }

  get accountCount() {
    return this.byPhone.size;
  }

  /** Every account as it is now, for saving (shares the live objects: encode it at once). */
  state(): AccountState[] {
    return [...this.byPhone.values()].map(({ device0, devices, ...rest }) => ({
      ...rest,
      device0: device0.state(),
      devices: [...devices.values()].map(({ connection: _, ...device }) => device),
    }));
  }

  /** The bundle a key fetch gets for a linked device; pops one one-time pre-key. */
  linkedDeviceBundle(device: LinkedDevice): PreKeyBundle {
    const first = device.preKeys.entries().next().value;
    if (first) {
      device.preKeys.delete(first[0]);
      this.changed();
    }
    return {
      registrationId: device.registrationId,
      identityKey: device.identityKey,
      signedPreKey: device.signedPreKey,
      preKey: first && { keyId: first[0], publicKey: first[1] },
    };
  }
}
