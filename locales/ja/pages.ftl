# 利用者が見るページ。メッセージは HTML です。引数はエスケープされますが、
# 本文はエスケープされません。

## 共通

sign-in-title = ログイン
continue = 続ける

## サーバーの選択 (login.html)

login-title = Fediverse でログイン
login-heading = { $client } にログイン
login-intro = Fediverse のアカウント（Mastodon と互換サーバー）を使います。
login-label = あなたのアドレスまたはサーバー
login-hint = 例: <code>@you@example.social</code> または <code>example.social</code>。
    ログインはあなた自身のサーバーで行います。パスワードがこちらに伝わることはありません。
login-choose-server = またはサーバーを選んでください:

## 同意 (consent.html)

consent-title = アクセスの許可
consent-heading = { $client } があなたが誰かを確認しようとしています
consent-signed-in-as = <strong>{ $handle }</strong> としてログインしています。
consent-will-receive = 続けると、{ $client } は次の情報を受け取ります:
consent-item-identifier = あなたのアカウントの変わらない識別子
consent-item-profile = 表示名、ユーザー名、アドレス（{ $handle }）
consent-item-links = プロフィールとアバターへのリンク
consent-item-offline = あなたか相手が取り消すまで、あなたがいない間も続くアクセス
consent-no-posting = 投稿、メッセージの閲覧、あなたの代わりの操作はできません。
consent-return-to = その後 <strong>{ $host }</strong> に戻ります。
consent-allow = 許可する
consent-deny = 拒否する
consent-not-you = ご本人ではありませんか？ <a href="{ $switch }">別のアカウントまたはサーバーを使う</a>

## エラー (error.html)

error-title = 問題が発生しました
error-restart = サーバーを選び直す
error-go-back = 元のアプリに戻って、もう一度ログインしてください。
    何度も起きる場合は、アプリの運営者にお知らせください。

## アプリに戻る (form_post.html)

form-post-title = { $host } に戻っています
form-post-noscript = ブラウザーでスクリプトが動いていません。「続ける」を押して { $host } に戻ってください。

## ログアウト (logout.html)

logout-title = ログアウト
logout-done-heading = ログアウトしました
logout-done-text = このブラウザーでは { $service } からログアウトしました。
    ログインしたアプリでは、そちらでログアウトするまでログインしたままの場合があります。
logout-confirm-heading = ログアウトしますか？
logout-confirm-client = { $client } が、このブラウザーでの { $service } からのログアウトを求めています。
logout-confirm = このブラウザーで { $service } からログアウトします。
logout-signed-in-as = <strong>{ $handle }</strong> としてログインしています。
logout-button = ログアウト
logout-not-asked = ログアウトするつもりがなかった場合は、このページを閉じてください。ログインしたままになります。

## Misskey 系サーバー向けのページ (client_information.html)

client-info-title = このアプリについて
client-info-text = { $name } は、Fediverse のアカウントでほかのウェブサイトにログインするためのサービスです。
    このページは、あなたが Misskey 系サーバーでログインするときに、誰が求めているかをサーバーに伝えます。
client-info-about = { $name } について
